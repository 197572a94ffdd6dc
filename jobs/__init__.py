"""Background work on procrastinate (docs/architecture.md, "Background jobs").

``jobs.engine`` holds the one procrastinate ``App`` (PostgreSQL when ``DATABASE_URL`` names
one, otherwise a queue inside this process), ``jobs.schedules`` the periodic tasks in
Novokuznetsk time, ``jobs.worker`` the worker (``python -m jobs worker``, the Procfile's
``worker``) and the embedded worker that ``make run`` starts inside the web process.

Imports: front ends → jobs → tables → db/providers. The domain functions the tasks call stay
idempotent on their own; the engine adds the schedule, retries and visibility.
"""
