#!/bin/sh
# The Kubernetes guestbook's small API, in busybox sh:
#   GET /guestbook?cmd=set&key=K&value=V  writes to redis-master:6379, answers {"message": "Updated"}
#   GET /guestbook?cmd=get&key=K          reads from redis-slave:6379, answers {"data": "V"}
# busybox httpd sends /guestbook?... on to /guestbook/?... (query kept), and a directory URL with
# no index.html runs /cgi-bin/index.cgi: that is how this script answers /guestbook.
#
# Input is data only: the query is split with IFS and globbing off, decoded by `httpd -d`, checked
# against fixed character sets, and sent to redis as RESP bulk strings (length-prefixed, so spaces
# and any other byte in a value travel unchanged). Nothing here is ever evaluated.

set -f
# The container's environment may point elsewhere (clients cannot set these: httpd passes only
# the CGI variables it makes itself).
MASTER=${GUESTBOOK_MASTER:-redis-master}
SLAVE=${GUESTBOOK_SLAVE:-redis-slave}
REDIS_PORT=${GUESTBOOK_REDIS_PORT:-6379}
MAX_KEY=128
MAX_VALUE=4096
CR=$(printf '\r')

reply() {  # STATUS JSON
	printf 'Status: %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n%s\n' "$1" "$2"
	exit 0
}

refuse() {  # STATUS MESSAGE; MESSAGE is always one of this script's fixed strings
	reply "$1" "{\"error\": \"$2\"}"
}

# A RESP array of bulk strings, one per argument.
resp() {
	printf '*%d\r\n' "$#"
	for arg in "$@"; do
		printf '$%d\r\n%s\r\n' "$(printf '%s' "$arg" | wc -c)" "$arg"
	done
}

# Send one command then QUIT (so redis closes the connection and nc ends); print the raw replies.
redis() {  # HOST COMMAND ARGS...
	host=$1
	shift
	{ resp "$@"; resp QUIT; } | nc -w 5 "$host" "$REDIS_PORT" 2>/dev/null
}

# Read a bulk-string reply on stdin and print its bytes; nothing for a nil reply, status 1 otherwise.
bulk_value() {
	IFS= read -r header || return 1
	header=${header%"$CR"}
	case $header in
	'$-1') return 0 ;;
	'$'[0-9]*)
		length=${header#?}
		case $length in *[!0-9]*) return 1 ;; esac
		head -c "$length"
		;;
	*) return 1 ;;
	esac
}

# Print stdin as the inside of a JSON string (quotes, backslashes and control bytes escaped).
json_escape() {
	awk 'BEGIN {
		ORS = ""
		for (i = 1; i < 32; i++) code[sprintf("%c", i)] = sprintf("\\u%04x", i)
		code["\""] = "\\\""; code["\\"] = "\\\\"; code["\t"] = "\\t"; code["\r"] = "\\r"
	}
	{
		if (NR > 1) print "\\n"
		line = $0
		for (i = 1; i <= length(line); i++) {
			c = substr(line, i, 1)
			print ((c in code) ? code[c] : c)
		}
	}'
}

case $REQUEST_METHOD in
GET | HEAD) ;;
*) refuse "405 Method Not Allowed" "only GET is served" ;;
esac

cmd=
key=
value=
has_key=
has_value=
IFS='&'
for pair in $QUERY_STRING; do
	raw=
	case $pair in *=*) raw=${pair#*=} ;; esac
	case ${pair%%=*} in
	cmd) cmd=$raw ;;
	key) key=$raw; has_key=1 ;;
	value) value=$raw; has_value=1 ;;
	esac
done
unset IFS

case $cmd in
get | set) ;;
*) refuse "400 Bad Request" "cmd must be get or set" ;;
esac

# Still encoded: %00-%1F and %7F would decode to control bytes (%00 would cut the string short).
encodes_control() {
	case $1 in *%[01][0-9A-Fa-f]* | *%7[Ff]* | *[[:cntrl:]]*) return 0 ;; esac
	return 1
}

[ -n "$has_key" ] || refuse "400 Bad Request" "key is missing"
KEY_RULE="key must be 1 to $MAX_KEY of the characters A-Z a-z 0-9 _ . : -"
encodes_control "$key" && refuse "400 Bad Request" "$KEY_RULE"
key=$(httpd -d "$key")
case $key in '' | *[!A-Za-z0-9_.:-]*) refuse "400 Bad Request" "$KEY_RULE" ;; esac
[ "${#key}" -le "$MAX_KEY" ] || refuse "400 Bad Request" "$KEY_RULE"

if [ "$cmd" = set ]; then
	[ -n "$has_value" ] || refuse "400 Bad Request" "value is missing"
	encodes_control "$value" && refuse "400 Bad Request" "value must not contain control characters"
	value=$(httpd -d "$value")
	case $value in *[[:cntrl:]]*) refuse "400 Bad Request" "value must not contain control characters" ;; esac
	[ "$(printf '%s' "$value" | wc -c)" -le "$MAX_VALUE" ] ||
		refuse "400 Bad Request" "value must be at most $MAX_VALUE bytes"
	answer=$(redis "$MASTER" SET "$key" "$value" | head -n 1)
	[ "${answer%"$CR"}" = "+OK" ] || refuse "502 Bad Gateway" "$MASTER:$REDIS_PORT did not store the value"
	reply "200 OK" '{"message": "Updated"}'
fi

raw=$(mktemp) && found=$(mktemp) || refuse "500 Internal Server Error" "no room for a temporary file"
trap 'rm -f "$raw" "$found"' EXIT
redis "$SLAVE" GET "$key" >"$raw"
bulk_value <"$raw" >"$found" || refuse "502 Bad Gateway" "$SLAVE:$REDIS_PORT did not answer"
reply "200 OK" "{\"data\": \"$(json_escape <"$found")\"}"
