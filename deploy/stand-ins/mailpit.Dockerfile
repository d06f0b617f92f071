# Stand-in for axllent/mailpit: SMTP on 1025, the web UI and the /api/v1 messages API on 8025.
ARG BASE
FROM ${BASE}
COPY mailpit.mjs /mailpit.mjs
USER node
EXPOSE 1025 8025
CMD ["node", "/mailpit.mjs"]
