-- A unit page reads that unit's audit lines of a period directly, not the period's latest lines
-- filtered afterwards (which left most units' sections empty once the period had many lines).
CREATE INDEX audit_by_unit ON audit (period, unit, id);
