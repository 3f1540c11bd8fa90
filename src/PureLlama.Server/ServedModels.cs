using System.Text.Json;
using PureLlama.Serving;

namespace PureLlama.Server;

/// <summary>The model ids a server answers to: the base model's and one per LoRA adapter of the engine.</summary>
internal sealed class ServedModels(string baseId, IReadOnlyList<string> adapters, DateTimeOffset created)
{
    public string BaseId { get; } = baseId;
    public IReadOnlyList<string> Adapters { get; } = adapters;

    /// <summary>The adapter a request's model names (null: the base model; an absent model means the base too). Unknown: 404.</summary>
    public string? Resolve(string? model)
    {
        if (model is null || model == BaseId) return null;
        if (Adapters.Contains(model)) return model;
        throw new ApiError(404, $"The model '{model}' does not exist; this server has {string.Join(", ", new[] { BaseId }.Concat(Adapters))}.",
            param: "model", code: "model_not_found");
    }

    /// <summary>GET /v1/models: <c>{"object":"list","data":[{"id","object":"model","created","owned_by","root","parent"}]}</c>.</summary>
    public void WriteList(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        WriteModel(w, BaseId, null);
        foreach (var a in Adapters) WriteModel(w, a, BaseId);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>GET /v1/models/{id}: one model object (the id must be served).</summary>
    public void WriteOne(Utf8JsonWriter w, string id) => WriteModel(w, id, id == BaseId ? null : BaseId);

    private void WriteModel(Utf8JsonWriter w, string id, string? parent)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", "model");
        w.WriteNumber("created", created.ToUnixTimeSeconds());
        w.WriteString("owned_by", "purellama");
        w.WriteString("root", parent ?? id);
        if (parent is null) w.WriteNull("parent"); else w.WriteString("parent", parent);
        w.WriteEndObject();
    }

    public static ServedModels For(ServingEngine engine, string? name) =>
        new(name ?? LlamaChatClient.DefaultModelId(engine.Runtime.Directory), engine.AdapterNames, DateTimeOffset.UtcNow);
}
