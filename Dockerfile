# The onboarding service on the official Deno image: bundles and dependencies are built into the
# image, and it runs as the non-root "deno" user with only the permissions `deno task start` has.
FROM denoland/deno:2.9.6

WORKDIR /app
ENV DENO_DIR=/deno-dir \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

# Dependencies first, so a code change does not refetch them.
COPY deno.json deno.lock ./
COPY main.ts app.ts app_types.ts ./
COPY lib/ ./lib/
COPY schemas/ ./schemas/
COPY routes/ ./routes/
COPY components/ ./components/
COPY islands/ ./islands/
COPY client/ ./client/
COPY scripts/ ./scripts/
COPY static/ ./static/

# Browser bundles (static/build) and every module main.ts needs, resolved from the lockfile.
RUN deno task build && deno cache --frozen main.ts \
    && mkdir -p /app/data && chown deno:deno /app/data

USER deno
EXPOSE 8000
VOLUME ["/app/data"]

# --cached-only: nothing is downloaded at run time (the root filesystem is read-only in k8s).
# --v8-flags: as `deno task start` (see there).
CMD ["deno", "run", "--cached-only", "--frozen", \
     "--v8-flags=--max-semi-space-size=8,--heap-growing-percent=30", "--allow-net", "--allow-read", \
     "--allow-write=./data", "--allow-env", "main.ts"]
