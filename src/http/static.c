/*-------------------------------------------------------------------------
 *
 * static.c
 *	  GET /e.js (the tracker, read once and on reload, with an ETag) and
 *	  GET /dashboard/... (files below the share directory's
 *	  extension/edgestat/dashboard, read per request).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "http_int.h"

/*
 * Reads a whole file into worker_cxt-or-current memory.  Returns NULL if it
 * does not exist or is not a regular file.
 */
static char *
read_whole_file(const char *path, size_t *len, MemoryContext cxt)
{
	int			fd;
	struct stat st;
	char	   *buf;
	size_t		done = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
		st.st_size > 64 * 1024 * 1024)
	{
		close(fd);
		return NULL;
	}
	buf = MemoryContextAlloc(cxt, st.st_size + 1);
	while (done < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, buf + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	close(fd);
	buf[done] = '\0';
	*len = done;
	return buf;
}

void
http_load_tracker(void)
{
	char		path[MAXPGPATH];
	size_t		len = 0;
	char	   *js;

	snprintf(path, sizeof(path), "%s/extension/edgestat/e.js", hw.share_dir);
	js = read_whole_file(path, &len, hw.worker_cxt);
	if (hw.tracker_js)
		pfree(hw.tracker_js);
	hw.tracker_js = js;
	hw.tracker_len = len;
	if (js)
		snprintf(hw.tracker_etag, sizeof(hw.tracker_etag), "\"%08x-%zx\"",
				 hash_bytes((const unsigned char *) js, (int) len), len);
	else
		elog(LOG, "edgestat http: tracker script \"%s\" not found; GET /e.js answers 404",
			 path);
}

enum MHD_Result
http_serve_tracker(EsConn *c)
{
	struct MHD_Response *r;
	const char *inm;

	if (hw.tracker_js == NULL)
		return http_respond_text(c, 404,
							"tracker script not installed (extension/edgestat/e.js missing)",
							0, NULL);
	inm = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
									  MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && strstr(inm, hw.tracker_etag) != NULL)
		r = http_body_response(NULL, 0, NULL);
	else
		r = http_body_response(hw.tracker_js, hw.tracker_len,
						  "application/javascript; charset=utf-8");
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
							"public, max-age=3600");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, hw.tracker_etag);
	return http_queue(c, (inm && strstr(inm, hw.tracker_etag)) ? 304 : 200, r);
}

enum MHD_Result
http_serve_dashboard(EsConn *c, const char *rel)
{
	char		path[MAXPGPATH];
	char	   *data;
	size_t		len;
	struct MHD_Response *r;

	if (rel[0] == '\0')
		rel = "index.html";
	if (!es_static_path_ok(rel))
		return http_respond_text(c, 404, "no such file", 0, NULL);
	snprintf(path, sizeof(path), "%s/extension/edgestat/dashboard/%s",
			 hw.share_dir, rel);
	data = read_whole_file(path, &len, CurrentMemoryContext);
	if (data == NULL)
		return http_respond_text(c, 404, "no such file", 0, NULL);
	r = http_body_response(data, len, es_content_type_for(rel));
	pfree(data);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return http_queue(c, 200, r);
}

/* A path below /dashboard/: only [A-Za-z0-9._/-], no "..", no "//". */
bool
es_static_path_ok(const char *rel)
{
	const char *p;

	if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strlen(rel) > 200)
		return false;
	for (p = rel; *p; p++)
	{
		char		c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
			  c == '/'))
			return false;
	}
	/* no "..", no hidden files, no empty segments */
	if (strstr(rel, "..") != NULL || strstr(rel, "//") != NULL ||
		rel[0] == '.' || strstr(rel, "/.") != NULL)
		return false;
	return true;
}

const char *
es_content_type_for(const char *path)
{
	static const struct
	{
		const char *ext;
		const char *type;
	}			types[] =
	{
		{".html", "text/html; charset=utf-8"},
		{".htm", "text/html; charset=utf-8"},
		{".js", "application/javascript; charset=utf-8"},
		{".mjs", "application/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".txt", "text/plain; charset=utf-8"},
		{".woff2", "font/woff2"},
	};
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strchr(dot, '/') == NULL)
	{
		for (int i = 0; i < lengthof(types); i++)
			if (pg_strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	}
	return "application/octet-stream";
}
