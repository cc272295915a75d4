-- The start of a delivery's retry window, apart from its first attempt: a pending delivery that an
-- earlier event goes ahead of (one that arrived late from another stream, or a replayed one) waits
-- behind it, and that wait is not its own window. The window starts again at its next attempt
-- (window_started_at back to null), so one bad event never dead-letters the events behind it.
alter table webhook_deliveries add column window_started_at timestamptz;
update webhook_deliveries set window_started_at = first_attempt_at where first_attempt_at is not null;
