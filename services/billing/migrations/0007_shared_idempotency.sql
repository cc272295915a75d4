-- Idempotency-Keys of credit requests are kept in the shared idempotent_requests
-- (shared.http.idempotency), per (tenant, caller, key). The keys recorded here did not say who sent
-- them, so they cannot be the caller's own there and are not carried over: a retry with such a key
-- after this migration credits only what is still uncredited (a line is credited at most once).
drop table credit_requests;
