FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY core core
COPY schema schema
COPY plugins plugins
COPY providers providers
RUN pip install --no-cache-dir . && useradd --system tidings
USER tidings
EXPOSE 8000
CMD ["tidings", "serve", "--host", "0.0.0.0", "--port", "8000"]
