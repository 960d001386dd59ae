# homeflow: the service, with espeak-ng to render speech and aplay (alsa-utils) to play it.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng alsa-utils \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY homeflow ./homeflow
# With the postgres extra: the same image runs one homeflow on SQLite or many sharing PostgreSQL.
RUN pip install --no-cache-dir ".[postgres]" && rm -rf /src

# Not root; `audio` lets aplay open /dev/snd when the host's sound card is passed in.
RUN useradd --system --uid 1000 --gid audio --home-dir /data homeflow \
    && mkdir -p /data && chown homeflow:audio /data
USER homeflow
WORKDIR /data
# A new named volume takes this folder's owner, so the journal is writable on first start.
VOLUME /data

ENV HOMEFLOW_CONFIG=/config/docker/homeflow.yaml PYTHONUNBUFFERED=1
EXPOSE 8765
CMD ["homeflow", "run"]
