// Talks to Tenantry's JSON APIs: one request helper that sends JSON, reads
// JSON or problem+json, and turns every failure into an ApiError.

// What a visitor is told when a failure comes without a problem's detail.
const FALLBACK_DETAILS = {
  0: "Cannot reach the server. Check your connection and try again.",
  400: "The server could not read the request.",
  401: "You are not signed in.",
  403: "You are not allowed to do this.",
  404: "This item does not exist, or it was deleted.",
  409: "This conflicts with the current state; reload and try again.",
  412: "Someone else changed this in the meantime.",
  413: "What you sent is too large.",
  415: "The server did not accept the format of the request.",
  422: "Some of the values are not valid.",
  429: "Too many attempts. Wait a minute and try again.",
  502: "The application is not answering. It may be restarting.",
  503: "The service is unavailable for a moment. Try again shortly.",
  504: "The server took too long to answer."
};

// Upper-cases the first letter and ends the text with a full stop, so that
// the API's lower-case details read as sentences.
export function sentence(text) {
  const trimmed = String(text).trim();

  if (trimmed === "") {
    return "";
  }
  return trimmed[0].toUpperCase() + trimmed.slice(1) +
    (/[.!?]$/.test(trimmed) ? "" : ".");
}

// A failed request: status is the HTTP status, or 0 when no answer came;
// problem is the problem+json document when the server sent one.
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && typeof problem.detail === "string" &&
      problem.detail !== ""
      ? problem.detail
      : FALLBACK_DETAILS[status] ||
        "The server answered with an unexpected error (" + status + ").";

    super(sentence(detail));
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || null;
  }

  // The last part of the problem's type, such as "last-owner".
  get slug() {
    const type = this.problem && this.problem.type;

    return typeof type === "string" ? type.replace(/^.*\//, "") : "";
  }

  get requestId() {
    return (this.problem && this.problem.request_id) || "";
  }

  // The per-field errors of a 422: [{field, detail}].
  get fieldErrors() {
    const errors = this.problem && this.problem.errors;

    if (!Array.isArray(errors)) {
      return [];
    }
    return errors.filter(function (error) {
      return error && typeof error.field === "string";
    });
  }
}

// Sends one request.  options: body (sent as JSON), ifMatch (an ETag),
// token (a bearer token).  Resolves to {status, data, etag}; data is null
// for an answer without a JSON body.  Rejects with an ApiError.
export async function request(method, path, options = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  let response;
  let data = null;

  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  if (options.ifMatch) {
    headers["If-Match"] = options.ifMatch;
  }
  if (options.token) {
    headers.Authorization = "Bearer " + options.token;
  }

  try {
    response = await fetch(path, init);
  } catch (failure) {
    throw new ApiError(0, null);
  }

  if (/json/i.test(response.headers.get("Content-Type") || "")) {
    try {
      data = await response.json();
    } catch (failure) {
      data = null;
    }
  }

  if (!response.ok) {
    throw new ApiError(response.status,
      data && typeof data === "object" ? data : null);
  }

  return { status: response.status, data, etag: response.headers.get("ETag") };
}
