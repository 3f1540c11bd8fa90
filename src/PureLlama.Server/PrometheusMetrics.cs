using System.Globalization;
using System.Text;

namespace PureLlama.Server;

/// <summary>GET /metrics: the engine's and the server's counters in Prometheus' text exposition format (version 0.0.4).</summary>
internal static class PrometheusMetrics
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(ServerState state)
    {
        var m = state.Engine.Metrics;
        var sb = new StringBuilder();
        Metric(sb, "purellama_requests_running", "gauge", "Sequences in the engine's running batch.", m.Running);
        Metric(sb, "purellama_requests_waiting", "gauge", "Requests queued by the engine (preempted ones included).", m.Waiting);
        Metric(sb, "purellama_requests_finished_total", "counter", "Engine requests that ended, for any reason.", m.RequestsFinished);
        Metric(sb, "purellama_prompt_tokens_total", "counter", "Prompt tokens of every request admitted.", m.PromptTokens);
        Metric(sb, "purellama_generation_tokens_total", "counter", "Tokens generated.", m.GeneratedTokens);
        Metric(sb, "purellama_prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.", m.PrefixCacheHitTokens);
        Metric(sb, "purellama_kv_blocks_used", "gauge", "KV cache blocks held by sequences (a block shared through the prefix cache counts once).", m.KvBlocksUsed);
        Metric(sb, "purellama_kv_blocks_free", "gauge", "KV cache blocks an allocation can take (free, or cached by the prefix cache but held by no sequence).", m.KvBlocksFree);
        Metric(sb, "purellama_kv_block_bytes", "gauge", "Bytes of one KV block (all layers, K and V).", m.KvBytesPerBlock);
        Metric(sb, "purellama_preemptions_total", "counter", "Sequences preempted because the KV pool ran dry.", m.Preemptions);
        Metric(sb, "purellama_http_requests_in_flight", "gauge", "Generation requests the HTTP server is handling.", state.InFlight);
        Metric(sb, "purellama_http_requests_rejected_total", "counter", "Generation requests refused with 429 (server or engine limit).", state.Rejected);
        return sb.ToString();
    }

    private static void Metric(StringBuilder sb, string name, string type, string help, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");
}
