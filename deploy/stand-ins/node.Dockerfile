# Stand-in for node:22-bookworm-slim: Debian bookworm with this machine's node and npm.
ARG BASE
FROM ${BASE}
ARG EXTRA_CA=
COPY extra-ca.crt /usr/local/share/extra-ca.crt
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=${EXTRA_CA}
CMD ["node"]
