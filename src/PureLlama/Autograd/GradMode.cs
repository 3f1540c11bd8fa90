namespace PureLlama.Autograd;

/// <summary>Whether ops are recorded for autograd on this thread.</summary>
public static class GradMode
{
    [ThreadStatic] private static int t_disabledDepth;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope.</summary>
    public static bool IsEnabled => t_disabledDepth == 0;

    /// <summary>Disables recording until the returned scope is disposed: <c>using (GradMode.NoGrad()) { … }</c>.</summary>
    public static IDisposable NoGrad()
    {
        t_disabledDepth++;
        return new Scope();
    }

    /// <summary>
    /// Turns recording back on inside a <see cref="NoGrad"/> region (a backward pass that recomputes a
    /// checkpointed block) until the returned scope is disposed, which restores the previous state.
    /// </summary>
    internal static IDisposable EnableGrad()
    {
        int saved = t_disabledDepth;
        t_disabledDepth = 0;
        return new RestoreScope(saved);
    }

    private sealed class Scope : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_disabledDepth--;
        }
    }

    private sealed class RestoreScope(int depth) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_disabledDepth = depth;
        }
    }
}
