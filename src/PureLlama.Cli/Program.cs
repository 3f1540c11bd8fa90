using System.CommandLine;

var root = new RootCommand("PureLlama: a Llama 3 compute engine in managed C#.");
return root.Parse(args).Invoke();
