# The newsdesk image used by docker-compose.yml for workers and the API.
FROM python:3.11-slim
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY newsdesk ./newsdesk
COPY extractors ./extractors
COPY flows ./flows
COPY config ./config
RUN uv sync --frozen --no-dev && ln -s /app/.venv/bin/newsdesk /usr/local/bin/newsdesk
ENV PATH="/app/.venv/bin:$PATH"
CMD ["newsdesk", "--help"]
