FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/lendbase
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN pip install --no-cache-dir -e .
ENV LENDBASE_VAR_DIR=/srv/lendbase/var
EXPOSE 8000
CMD ["sh", "-c", "lendbase init && lendbase app install apps/credit_template && lendbase run --host 0.0.0.0 --port 8000"]
