-- A framework agreement's payment terms: days from the invoice date to its due date, snapshotted
-- into each order at approval for billing.
alter table framework_agreements
  add column payment_terms_days int not null default 21
    check (payment_terms_days between 0 and 120);
