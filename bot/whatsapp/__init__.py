"""The WhatsApp edge: neonize events in, ``IncomingMessage`` out; live and replay transports.

``convert`` turns a neonize ``MessageEv`` into the bot's frozen ``IncomingMessage``;
``client`` is the live neonize front-end, ``neonize_transport`` its ``Transport``; ``replay``
reads recorded events and writes what the bot would send as JSON lines.
"""
