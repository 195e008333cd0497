# audit-archiver on OCI Container Instances: `main.ts run` as the non-root user `deno`, with the "default"
# least-privilege permission set of deno.json (network only to Oracle Cloud, the metadata address and listening
# on 0.0.0.0:8080; reads ./archive, ./keys, /etc/audit-archiver and /var/oci/rp-identity, where the service
# mounts the resource principal's files; writes ./archive only). The image holds no secret: no key, no archive
# (see .dockerignore). Configure it with environment variables; give keys through a Vault secret or the HSM.
#
# Pinned to the Deno that CI tests with (.ci/run installs 2.9.6). A tag, not a digest: no registry was
# reachable to look the digest up. Pin it for production: denoland/deno:2.9.6@sha256:<digest>.
FROM denoland/deno:2.9.6

WORKDIR /app
# The archive folder and the keys folder (both volumes), owned by the user that runs the program.
RUN mkdir -p /app/archive /app/keys && chown deno:deno /app/archive /app/keys

# Dependencies are fetched here, at build time, as the user that runs them (its cache stays writable for
# Deno's code cache); at run time --cached-only fetches nothing, so the container needs network only to
# Oracle Cloud. deno.json and deno.lock stay root-owned and read-only to the program.
COPY deno.json deno.lock main.ts ./
COPY src ./src
USER deno
RUN deno install --frozen --entrypoint main.ts

# The checkpoint signing key (./keys/checkpoint.pem, created on first use) lives on a volume like the archive:
# a new container must sign with the same key, or the auditors' pinned public key stops matching.
VOLUME ["/app/archive", "/app/keys"]
# `run` serves /healthz, /metrics and POST /trigger when PORT=8080 and TRIGGER_TOKEN are set.
EXPOSE 8080
# Docker's own health probe (OCI Container Instances ignores it and uses its container health checks; see
# docs/deployment.md). A separate process with its own permissions: loopback port 8080 and nothing else, no
# config file, no curl in the image. It needs PORT=8080 (and so TRIGGER_TOKEN) set for `run`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "run", "--no-config", "--quiet", "--allow-net=127.0.0.1:8080", "data:text/javascript,const r=await fetch('http://127.0.0.1:8080/healthz',{signal:AbortSignal.timeout(4000)});Deno.exit(r.ok?0:1)"]
# Memory (docs/performance.md): V8's heap capped, and large buffers (response bodies) given back to the system
# when freed instead of fragmenting malloc's arenas; the same as the deno.json tasks and the compiled binary.
ENV MALLOC_MMAP_THRESHOLD_=262144
ENTRYPOINT ["deno", "run", "-q", "--v8-flags=--max-old-space-size=96,--max-semi-space-size=4", "-P", "--cached-only", "--frozen", "main.ts"]
# `docker run <image> once` (or the Container Instances "command arguments") runs one pass instead.
CMD ["run"]
