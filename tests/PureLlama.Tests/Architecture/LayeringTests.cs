using System.Reflection;
using System.Reflection.Emit;
using PureLlama.Tensors;

namespace PureLlama.Tests.Architecture;

/// <summary>
/// The library's namespaces form layers (docs/architecture.md):
/// {Tensors, Compute, Autograd} &lt; Nn &lt; IO &lt; Quantization, Tokenization &lt; Llama &lt; Generation, Training, Calibration &lt; applications.
/// The test reads every reference the compiled assembly makes — signatures and the tokens in each
/// method body (IL), so a namespace-relative name like <c>Training.LoraMerge</c> is seen too — and fails on an
/// edge to a higher layer or a cycle above the façade. A new namespace must be placed in <see cref="Layer"/> first.
/// </summary>
public class LayeringTests
{
    // Lower numbers are lower layers; code may use its own layer and the ones below.
    private static readonly Dictionary<string, int> Layer = new()
    {
        [""] = 0, ["Tensors"] = 0, ["Compute"] = 0, ["Autograd"] = 0,   // the tensor façade (cycles allowed inside)
        ["Nn"] = 1,
        ["IO"] = 2, ["Gguf"] = 2,                                         // file formats
        ["Quantization"] = 3, ["Tokenization"] = 3,
        ["Llama"] = 4,                                                    // the model (and its loading, GGUF's included)
        ["Generation"] = 5, ["Serving"] = 5, ["Training"] = 5, ["Calibration"] = 5, ["Distributed"] = 5,
        ["Diagnostics"] = 6, ["Demo"] = 6,                                // applications
    };

    private const int Facade = 0;

    [Fact]
    public void Namespaces_form_a_dag_above_the_facade()
    {
        var edges = NamespaceEdges(typeof(Tensor).Assembly);
        var unknown = edges.Keys.SelectMany(e => new[] { e.From, e.To }).Distinct().Where(n => !Layer.ContainsKey(n)).ToList();
        unknown.Should().BeEmpty("every namespace needs a layer in LayeringTests.Layer");

        var upward = edges.Where(e => Layer[e.Key.From] < Layer[e.Key.To])
            .Select(e => $"{e.Key.From} → {e.Key.To} ({e.Value})").ToList();
        upward.Should().BeEmpty("a namespace may use only its own layer and the ones below");

        var cycles = Cycles(edges.Keys.Where(e => Layer[e.From] > Facade || Layer[e.To] > Facade).ToList());
        cycles.Should().BeEmpty("namespaces above the tensor façade must not form cycles");
    }

    [Fact]
    public void The_scan_sees_namespace_relative_references()
    {
        // Nn.Linear calls Autograd.Ops in a method body only: the IL scan must see that edge.
        var edges = NamespaceEdges(typeof(Tensor).Assembly);
        edges.Keys.Should().Contain(("Nn", "Autograd")).And.Contain(("Llama", "Nn")).And.Contain(("Training", "Llama"));
    }

    /// <summary>(from, to) namespace pairs, with one example member making each reference.</summary>
    internal static Dictionary<(string From, string To), string> NamespaceEdges(Assembly assembly)
    {
        var edges = new Dictionary<(string, string), string>();
        foreach (var type in assembly.GetTypes())
        {
            string from = LayerName(type);
            void Add(Type? t, string where)
            {
                foreach (var used in Expand(t))
                    if (used.Assembly == assembly && LayerName(used) is var to && to != from)
                        edges.TryAdd((from, to), $"{type.FullName}.{where} uses {used.FullName}");
            }
            Add(type.BaseType, "base");
            foreach (var i in type.GetInterfaces()) Add(i, "interface");
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var f in type.GetFields(all)) Add(f.FieldType, f.Name);
            foreach (var p in type.GetProperties(all)) Add(p.PropertyType, p.Name);
            foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                if (m is MethodInfo mi) Add(mi.ReturnType, m.Name);
                foreach (var p in m.GetParameters()) Add(p.ParameterType, m.Name);
                foreach (var used in BodyReferences(m)) Add(used, m.Name);
            }
        }
        return edges;
    }

    private static string LayerName(Type t)
    {
        string ns = t.Namespace ?? "";
        if (ns == "PureLlama") return "";
        return ns.StartsWith("PureLlama.", StringComparison.Ordinal) ? ns.Split('.')[1] : ns;
    }

    private static IEnumerable<Type> Expand(Type? t)
    {
        if (t is null || t.IsGenericParameter) yield break;
        if (t.HasElementType) { foreach (var e in Expand(t.GetElementType())) yield return e; yield break; }
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
        {
            foreach (var a in t.GetGenericArguments()) foreach (var e in Expand(a)) yield return e;
            t = t.GetGenericTypeDefinition();
        }
        yield return t;
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>Types named by the member/type/field tokens in a method body.</summary>
    private static IEnumerable<Type> BodyReferences(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); } catch (BadImageFormatException) { il = null; }
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                    var member = Resolve(method.Module, BitConverter.ToInt32(il, i), typeArgs, methodArgs);
                    if (member is Type t) yield return t;
                    else if (member is not null)
                    {
                        yield return member.DeclaringType!;
                        if (member is MethodInfo { IsGenericMethod: true } gm)
                            foreach (var a in gm.GetGenericArguments()) yield return a;
                    }
                    i += 4;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + 4 * BitConverter.ToInt32(il, i);
                    break;
                default:
                    i += op.OperandType switch
                    {
                        OperandType.InlineNone => 0,
                        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                        OperandType.InlineVar => 2,
                        OperandType.InlineI8 or OperandType.InlineR => 8,
                        _ => 4,
                    };
                    break;
            }
        }
    }

    private static MemberInfo? Resolve(Module module, int token, Type[]? typeArgs, Type[]? methodArgs)
    {
        try { return module.ResolveMember(token, typeArgs, methodArgs); }
        catch (ArgumentException) { return null; }
    }

    /// <summary>Each cycle (a strongly connected set of more than one namespace), as text.</summary>
    private static List<string> Cycles(List<(string From, string To)> edges)
    {
        var nodes = edges.SelectMany(e => new[] { e.From, e.To }).Distinct().ToList();
        bool Reaches(string a, string b)
        {
            var seen = new HashSet<string> { a };
            var stack = new Stack<string>([a]);
            while (stack.Count > 0)
            {
                string n = stack.Pop();
                foreach (var (f, t) in edges)
                {
                    if (f != n) continue;
                    if (t == b) return true;
                    if (seen.Add(t)) stack.Push(t);
                }
            }
            return false;
        }
        return [.. nodes.Select(n => nodes.Where(m => m == n || (Reaches(n, m) && Reaches(m, n))).OrderBy(m => m).ToList())
            .Where(c => c.Count > 1).Select(c => string.Join(" ⇄ ", c)).Distinct()];
    }
}
