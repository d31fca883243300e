package api

import (
	"net/http"
	"regexp"
	"strings"

	"sirec/internal/auth"
)

var pathParam = regexp.MustCompile(`\{([a-z0-9_]+)\}`)

// Document returns the OpenAPI 3 document of the routes. Each operation names the posts that may call it in
// "x-sirec-posts" (empty for a public operation) and the scope an API token needs in "x-sirec-scope".
func (s *Server) Document() map[string]any {
	paths := map[string]map[string]any{}
	problem := map[string]any{"$ref": "#/components/responses/Problem"}
	for _, rt := range s.routes() {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt),
			"responses": map[string]any{
				"200": map[string]any{"description": "OK"},
				"4XX": problem,
				"5XX": problem,
			},
		}
		posts := []string{}
		for _, p := range rt.posts {
			posts = append(posts, string(p))
		}
		op["x-sirec-posts"] = posts
		if rt.public() {
			op["security"] = []any{}
		} else {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
			if rt.scope != "" {
				op["x-sirec-scope"] = string(rt.scope)
			}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch rt.body {
		case "json":
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
		case "file":
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}
		}
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "sirec — social insurance personal rights records API",
			"version":     "1",
			"description": "社会保险个人权益记录. Money is a string of yuan with two decimals; periods are YYYYMM. Errors are RFC 9457 problem documents naming the field and the rule.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a session token from POST /api/v1/session, or an API token"}},
			"responses": map[string]any{"Problem": map[string]any{
				"description": "RFC 9457 problem document",
				"content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"type": map[string]any{"type": "string"}, "title": map[string]any{"type": "string"}, "status": map[string]any{"type": "integer"},
						"detail": map[string]any{"type": "string"}, "field": map[string]any{"type": "string"}, "rule": map[string]any{"type": "string"},
						"errors": map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
					},
				}}},
			}},
		},
	}
}

func operationID(rt route) string {
	p := pathParam.ReplaceAllString(strings.TrimPrefix(rt.path, "/api/v1/"), "by_$1")
	p = strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(strings.Trim(p, "/"))
	return strings.ToLower(rt.method) + "_" + p
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	writeJSON(w, http.StatusOK, s.Document())
}
