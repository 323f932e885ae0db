# One image for every service of cinema-saga; compose.yaml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY booking booking
COPY inventory inventory
COPY payment payment
COPY theatre theatre
COPY pricing pricing
COPY notifications notifications
COPY projections projections
COPY shared shared
COPY embedded embedded
COPY launcher launcher
RUN pip install --no-cache-dir .
USER nobody
