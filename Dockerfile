# One image for every Beacon Mail service; docker-compose.yml picks the command
# (beaconmail init | smtp | pop3 | imap | admin | web). Configuration and secrets come from the
# environment at run time, never from the image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: install the package and its dependencies into a virtual environment.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/beaconmail
COPY pyproject.toml README.md /src/
COPY shared /src/shared
COPY services /src/services
RUN /opt/beaconmail/bin/pip install /src \
 && /opt/beaconmail/bin/pip uninstall --yes pip setuptools

# Final stage: the virtual environment only (no compiler, no build files, no sources), run as a
# non-root user. The data folders exist here so new named volumes inherit their owner.
FROM ${PYTHON_IMAGE}
# Dovecot from Debian for `beaconmail imap` (IMAP and the SQL driver for our PostgreSQL).
RUN apt-get update \
 && apt-get install --yes --no-install-recommends dovecot-imapd dovecot-pgsql \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 beaconmail \
 && useradd --system --uid 10001 --gid beaconmail --home-dir /var/lib/beaconmail --shell /usr/sbin/nologin beaconmail \
 && install -d -o beaconmail -g beaconmail -m 0750 \
      /var/lib/beaconmail /var/lib/beaconmail/mail /var/lib/beaconmail/tls /var/lib/beaconmail/dkim \
      /var/lib/beaconmail/imap
COPY --from=build /opt/beaconmail /opt/beaconmail
ENV PATH=/opt/beaconmail/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BEACONMAIL_DATA_DIR=/var/lib/beaconmail
USER beaconmail:beaconmail
WORKDIR /var/lib/beaconmail
EXPOSE 25 587 465 110 995 143 993 80 443 8080
CMD ["beaconmail", "--help"]
