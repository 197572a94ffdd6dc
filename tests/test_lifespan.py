"""What the application does when a server process starts and stops."""

from __future__ import annotations

import gc


def test_startup_freezes_the_heap_and_shutdown_thaws_it():
    # The hooks are called directly: the rest of the lifespan opens and closes the database
    # pool, which the tests' own set-up owns.
    from app import create_app, freeze_startup_heap

    app = create_app()
    assert freeze_startup_heap in app.on_startup and gc.unfreeze in app.on_shutdown
    try:
        freeze_startup_heap()
        # Startup objects leave the collector's generations: full collections stay short.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()  # what shutdown runs: another app built in this process can be freed
    assert gc.get_freeze_count() == 0
