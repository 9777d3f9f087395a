#!/bin/sh
# PID 1 of the web container. busybox httpd installs no SIGTERM handler and the kernel drops a
# signal without a handler when it is sent to a namespace's PID 1, so with httpd as PID 1 every
# `docker stop` would wait out its whole timeout. This shell passes SIGTERM/SIGINT on to httpd.
httpd -f -p 80 -h /www -u www-data:www-data "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
wait "$pid"
status=$?
# a trapped signal ends the first wait early; the second one collects httpd itself
wait "$pid" 2>/dev/null
exit "$status"
