-- Content may belong to one session of its process (notes of the 3rd session, say); the handler
-- checks that the session is the process's own.
alter table content_items add column session_id uuid references sessions (id);
create index content_items_session on content_items (session_id, created_at, id) where session_id is not null;
