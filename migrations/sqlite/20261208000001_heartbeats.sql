-- Processes that say they are alive (issue 20): each daemon writes its name and the time every few
-- seconds. A lease held by a process whose heartbeat stopped is recovered at once by the others,
-- on any host, instead of after the lease; a process with no row here (a CLI run) is not judged.
CREATE TABLE heartbeats (
    owner   TEXT   PRIMARY KEY,
    beat_at BIGINT NOT NULL
);
