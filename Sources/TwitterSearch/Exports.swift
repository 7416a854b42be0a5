// The transport seam speaks swift-http-types (`HTTPFields`, `HTTPRequest.Method`, `HTTPResponse.Status`),
// so every user of TwitterSearch needs them; re-exported as swift-openapi-runtime does.
@_exported import HTTPTypes
