-- The workflow kit's deadline for change proposals: due two working days after they are
-- made (the date is computed with the bank's calendar when a proposal is written); the
-- nightly job marks pending ones past it overdue. Proposals made before have no due date.
ALTER TABLE customer_proposal ADD COLUMN due_on TEXT;
ALTER TABLE customer_proposal ADD COLUMN overdue BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE customer_proposal ADD COLUMN escalated_us BIGINT;
