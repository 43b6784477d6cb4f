# Sourced by the registry benchmarks (run.sh, skopeo_pair.sh).

# make_model DIR MIB: a model in the skopeo dir: layout DIR: an OCI manifest, a config and
# one layer of MIB MiB of random bytes (llmo's model file media type: skopeo copies it as it
# is; a tar layer it would gzip). Sets LAYER and CFG to their SHA-256 (hex).
make_model() {
	local dir=$1 mib=$2
	mkdir -p "$dir"
	head -c $((mib << 20)) /dev/urandom >"$dir/layer"
	LAYER=$(sha256sum "$dir/layer" | cut -d' ' -f1)
	mv "$dir/layer" "$dir/$LAYER"
	printf '{"name":"bench","version":"1"}' >"$dir/config"
	CFG=$(sha256sum "$dir/config" | cut -d' ' -f1)
	mv "$dir/config" "$dir/$CFG"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.llmo.model.file.v1","digest":"sha256:%s","size":%d}]}' \
		"$CFG" "$(stat -c %s "$dir/$CFG")" "$LAYER" $((mib << 20)) >"$dir/manifest.json"
	printf 'Directory Transport Version: 1.1\n' >"$dir/version"
}

# nginx serving a skopeo dir: layout as a read-only registry, the reference server for pulls.

# nginx_registry DIR HOST:PORT SRC REPO TAG: writes DIR/nginx.conf for nginx answering
# pulls of REPO:TAG from the dir: layout SRC (manifest.json and blobs named by their
# SHA-256) as a registry would: /v2/, the manifest by its tag with its media type and
# digest, the blobs by digest (links named sha256:HEX in DIR/blobs); anything else 404.
# One worker, sendfile on: nothing between the page cache and the socket. Start it with
#   nginx -p DIR -c DIR/nginx.conf
# DIR's parents must be searchable by nginx's worker (nobody, when run as root).
nginx_registry() {
	local dir=$1 listen=$2 src=$3 repo=$4 tag=$5 f b manifest
	mkdir -p "$dir/blobs"
	for f in "$src"/*; do
		b=$(basename "$f")
		if [ ${#b} -eq 64 ] && [ -z "${b//[0-9a-f]/}" ]; then
			ln -sf "$f" "$dir/blobs/sha256:$b"
		fi
	done
	manifest=$(sha256sum "$src/manifest.json" | cut -d' ' -f1)
	cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen $listen;
    location = /v2/ { default_type application/json; return 200 '{}'; }
    location = /v2/$repo/manifests/$tag {
      alias $src/manifest.json;
      types { } default_type application/vnd.oci.image.manifest.v1+json;
      add_header Docker-Content-Digest sha256:$manifest;
    }
    location /v2/$repo/blobs/ {
      alias $dir/blobs/;
      types { } default_type application/octet-stream;
    }
    location / { return 404; }
  }
}
CONF
}
