# skimguard with Debian's Chromium, running as a non-root user so that
# Chromium keeps its sandbox on (chromedp turns it off only for root).
# Chromium's sandbox creates user, PID and network namespaces, which
# Docker's default seccomp profile refuses: run with the profile that allows
# them, docs/seccomp-chromium.json (compose.yaml does):
#   docker build -t skimguard .
#   docker run --security-opt seccomp=docs/seccomp-chromium.json skimguard demo
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/skimguard ./cmd/skimguard

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 skimguard \
 && mkdir -p /data /etc/skimguard \
 && chown skimguard /data
COPY --from=build /out/skimguard /usr/local/bin/skimguard
USER skimguard
WORKDIR /home/skimguard
ENV SKIMGUARD_CHROMIUM=/usr/lib/chromium/chromium
# tini reaps Chromium's renderer processes.
ENTRYPOINT ["/usr/bin/tini", "--", "skimguard"]
CMD ["check"]
