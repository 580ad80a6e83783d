# The bot in a container: docker build -t whatsapp-bot . && docker compose up -d
# Everything it keeps (database, WhatsApp session) lives in /app/data: mount a volume there.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg for neonize's audio/video helpers, libmagic1 for its media type checks. Debian's
# security updates are wanted here, so the versions are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libmagic1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group bot

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY main.py .env.example ./
COPY bot/ bot/
COPY helpers/ helpers/
COPY storage/ storage/
RUN mkdir /app/data && chown bot:bot /app/data

USER 10001:10001
ENV DATABASE_PATH=/app/data/bot.db \
    WHATSAPP_SESSION=/app/data/whatsapp.sqlite3
VOLUME ["/app/data"]

# Asks GET /healthz when ADMIN_HTTP_ADDR is set; without the admin server it always passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "main.py", "healthcheck"]

ENTRYPOINT ["python", "main.py"]
