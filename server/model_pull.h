// --model-url: models pulled over HTTP(S) into the model directory at start-up, so that a fleet
// of replicas takes its models from plain storage (a bucket's HTTPS address, a web server)
// instead of having files copied onto each machine (docs/model-api.md).
#pragma once

#include <string>
#include <vector>

#include "faceswap/net/model_store.h"
#include "model_catalog.h"

namespace faceswap::server {

struct ModelSource {
    std::string url;     // without the fragment
    std::string id;      // the file stem of the URL's last path segment
    std::string sha256;  // from "#sha256=HEX"; empty when not pinned
};

// Parses "URL[#sha256=HEX]". Throws ConfigError for a URL that is not http(s) or names no file.
ModelSource parse_model_source(const std::string& text);

// Pulls each source into the catalog's model directory, verified and loaded before it serves.
// Nothing is downloaded again after a restart: a pinned sha256 that the directory already
// holds needs no request; otherwise the ETag/Last-Modified remembered with the sha256 of what
// it served (DIR/.model-urls.json) makes the request conditional. When a source fails, a copy
// pulled earlier keeps serving (with a warning) unless a different sha256 is pinned.
// Throws std::runtime_error naming the URL on a failure with nothing to fall back on.
// `cancel` (may be null) stops a pull in progress, e.g. when the server is told to stop.
void pull_models(const std::vector<ModelSource>& sources, ModelCatalog& catalog,
                 const net::HttpOptions& http, const std::atomic<bool>* cancel = nullptr);

}  // namespace faceswap::server
