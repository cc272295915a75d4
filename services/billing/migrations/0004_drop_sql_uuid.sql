-- Draft invoices get their UUIDv7 from shared.ids like every other row; the SQL stand-in goes
-- (it was executable by every role of the database, the relay's included).
drop function billing_uuid_v7();
