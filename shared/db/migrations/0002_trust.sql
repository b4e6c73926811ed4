CREATE TABLE "voice_rooms" (
	"name" text PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mcp_servers" ADD COLUMN "admin_managed" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "voice_rooms" ADD CONSTRAINT "voice_rooms_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "voice_rooms_user_idx" ON "voice_rooms" USING btree ("user_id");--> statement-breakpoint
-- Errors stored before they were scrubbed of secrets may quote one (DESIGN §9.2): replace them.
-- The status monitor writes a fresh, scrubbed error at its next attempt.
UPDATE "mcp_servers" SET "last_error" = 'The previous error was removed on upgrade (it could quote a secret); the next connection attempt reports again.' WHERE "last_error" IS NOT NULL;--> statement-breakpoint
UPDATE "tool_calls" SET "error" = 'The error text was removed on upgrade (it could quote a secret).' WHERE "error" IS NOT NULL;
