"""The WhatsApp edge: neonize events in, ``IncomingMessage`` out; live and replay transports.

``convert`` turns a neonize ``MessageEv`` into the bot's frozen ``IncomingMessage``;
``client`` is the live neonize front-end and its ``NeonizeTransport``; ``replay`` reads
recorded events and writes what the bot would send as JSON lines.

Importing this package imports neonize (loading its Go library). neonize runs ``uname -a``
through ``os.popen`` at import and never closes the pipe (``neonize/utils/platform.py:39``);
the resulting ResourceWarning is silenced here, where it would otherwise turn fatal under
``-W error`` (as in the test suite).
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    import neonize  # noqa: F401
