-- The utm medium and campaign of a visit are report dimensions beside its source: the
-- day table keys on them too ('' when the visit had none, so every existing row is a
-- row without them). The minute table keeps summing over them (the timeline is by
-- source only). Both are bounded by the worker (slots per launch and day) like sources.
ALTER TABLE metrics_day
    ADD COLUMN medium   TEXT NOT NULL DEFAULT '',
    ADD COLUMN campaign TEXT NOT NULL DEFAULT '';
ALTER TABLE metrics_day DROP CONSTRAINT metrics_day_pkey;
ALTER TABLE metrics_day ADD PRIMARY KEY (launch, day, source, medium, campaign, metric);
