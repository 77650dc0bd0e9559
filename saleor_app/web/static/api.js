// The app's JSON API, called with the Dashboard token (PLATFORM.md §7.3 headers).

export class ApiFailure extends Error {
  constructor(status, code, message, fields = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

export class Api {
  constructor(bridge, saleorApiUrl) {
    this.bridge = bridge;
    this.saleorApiUrl = saleorApiUrl;
  }

  async request(method, path, body, { text = false, rawBody = null, contentType = "application/json" } = {}) {
    const headers = { "authorization-bearer": this.bridge.token || "", "saleor-api-url": this.saleorApiUrl };
    let payload;
    if (rawBody !== null) {
      payload = rawBody;
      headers["content-type"] = contentType;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(`/api/v1${path}`, { method, headers, body: payload, cache: "no-store" });
    } catch {
      throw new ApiFailure(0, "UNREACHABLE", "The app's server did not answer. Your input is kept here: try again in a moment.");
    }
    if (response.status === 204) return null;
    if (response.ok) return text ? response.text() : response.json();
    let data = null;
    try {
      data = await response.json();
    } catch {
      /* not JSON: a proxy's error page */
    }
    if (data && data.error) {
      throw new ApiFailure(response.status, data.error.code, data.error.message, data.error.fields || []);
    }
    throw new ApiFailure(response.status, "HTTP_" + response.status,
      response.status >= 500 ? "The app's server had a problem. Your input is kept here: try again in a moment."
        : `The request failed (HTTP ${response.status}).`);
  }

  get(path, options) { return this.request("GET", path, undefined, options); }
  post(path, body) { return this.request("POST", path, body); }
  put(path, body) { return this.request("PUT", path, body); }
  del(path) { return this.request("DELETE", path); }
}
