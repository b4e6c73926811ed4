DROP INDEX "tool_calls_server_started_idx";--> statement-breakpoint
ALTER TABLE "mcp_servers" ADD COLUMN "secret_hints" jsonb;--> statement-breakpoint
CREATE INDEX "mcp_servers_user_id_idx" ON "mcp_servers" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "tool_calls_server_started_idx" ON "tool_calls" USING btree ("server_id","started_at","id");