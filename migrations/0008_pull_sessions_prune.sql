-- Pruning of the session policy's storage (pruneSessions): client by client, under the clients' locks, so it
-- finds the clients with events before the cutoff first. This index finds them without reading the table (an
-- index-only scan); the deletes then go through idx_pull_session_events_client_time and pull_sessions' key, and the
-- clients with sessions before the cutoff are found through idx_pull_sessions_ended_at.
CREATE INDEX IF NOT EXISTS idx_pull_session_events_event_time ON pull_session_events (event_time) INCLUDE (client_key);
