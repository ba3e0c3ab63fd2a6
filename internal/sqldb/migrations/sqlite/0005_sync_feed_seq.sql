-- The change feed of a customer's checkout reads each entity's rows with seq > S in seq
-- order (sqldb.Changes). These indexes let it seek to S within the customer instead of
-- walking every row of the customer, or every row changed since S in all customers.
CREATE INDEX locations_customer_seq ON locations (customer_id, seq);
CREATE INDEX devices_customer_seq ON devices (customer_id, seq);
CREATE INDEX tests_customer_seq ON tests (customer_id, seq);
CREATE INDEX tombstones_customer_seq ON tombstones (customer_id, seq);

-- The rows an upload changed, answered with its batch result (izy.BatchResult.Rows): the
-- change feed of that checkout leaves out a row whose seq is listed here, since the
-- client has it already. Each upload drops the rows at or below the acknowledged seq.
CREATE TABLE sync_echo (
	checkout_id TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	PRIMARY KEY (checkout_id, seq)
);
