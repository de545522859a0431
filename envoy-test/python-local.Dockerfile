# A registry-free Python image for our Bookinfo: Debian's python3, its standard library and the libraries `ldd`
# lists (local_python_image.py stages them under rootfs/ at their host paths). PYTHONHOME: the interpreter sits
# in /usr/local/bin (as in the official image) while its library stays in /usr/lib.
FROM scratch
COPY rootfs/ /
ENV PYTHONHOME=/usr
ENTRYPOINT ["/usr/local/bin/python3"]
