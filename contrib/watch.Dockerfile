# The reconciler in a container, on any machine with Docker that reaches the hosts and etcd:
#
#   docker build -t nap-compose-watch -f contrib/watch.Dockerfile .
#   docker run -d --name nap-compose-watch --restart unless-stopped --network host \
#     -v /etc/nap-compose:/etc/nap-compose:ro -e NAP_CLUSTER=/etc/nap-compose/nap-cluster.yml \
#     nap-compose-watch
#
# /etc/nap-compose holds the cluster file and the files it names (SSH key, known_hosts, etcd's TLS
# files), at the paths the cluster file gives. Run it on two or three machines: one leads.
FROM python:3.11-slim
COPY . /src
RUN pip install --no-cache-dir /src && rm -rf /src
STOPSIGNAL SIGTERM
ENTRYPOINT ["nap-compose", "watch"]
