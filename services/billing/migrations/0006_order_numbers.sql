-- The buyer's human-readable order number (orders' OrderFacts.order_number, TO-2027-000123) in
-- billing's read model of orders: the order reference an invoice of one order carries (UBL
-- OrderReference/ID, Finvoice OrderIdentifier). Null for orders heard before orders numbered them,
-- whose invoices keep the order id as the reference.
alter table billing_orders add column order_number text;
