# audit-archiver as a container (OCI Container Instances): `run` as a non-root user, with the "default"
# least-privilege permission set. Mount a volume at /app/archive and the client key under /app/keys.
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock main.ts ./
# Dependencies are fetched at build time, so the running container needs network only to Oracle Cloud.
RUN deno install --frozen --entrypoint main.ts \
 && mkdir -p /app/archive /app/keys \
 && chown deno:deno /app/archive

USER deno
VOLUME ["/app/archive"]
ENTRYPOINT ["deno", "run", "-P", "--cached-only", "main.ts"]
CMD ["run"]
