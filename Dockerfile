# The Tally application image (worker and gateway; see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . /app
RUN pip install . \
    && useradd --create-home --uid 10001 tally \
    && mkdir -p /data/worker /data/orders \
    && chown tally /data/worker /data/orders
USER tally

EXPOSE 8000 9108
CMD ["python", "-m", "processors.worker"]
