# tinit as a container image: a static binary in an otherwise empty image,
# meant to be copied into test images:
#
#   COPY --from=tinit /tinit /tinit
#   ENTRYPOINT ["/tinit", "--"]
#
# Two ways to build it:
#   make image                          from bin/tinit built on the host
#                                       (target "local"; works offline)
#   docker build --target release .     from source, in a Go build stage

# local: the binary the Makefile built (CGO_ENABLED=0, static).
FROM scratch AS local
COPY bin/tinit /tinit
ENTRYPOINT ["/tinit", "--"]

# build: compile from source.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tinit ./cmd/tinit

# release: the default target.
FROM scratch AS release
COPY --from=build /out/tinit /tinit
ENTRYPOINT ["/tinit", "--"]
