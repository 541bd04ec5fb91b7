# Centinela's image: engine workers, adapters and the API share it (compose/docker-compose.yml).
FROM docker.io/library/python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY centinela ./centinela
RUN pip install --no-cache-dir '.[all]' && useradd --system --uid 10001 centinela
USER centinela
ENTRYPOINT []
CMD ["centinela", "--help"]
