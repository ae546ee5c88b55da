namespace ModelGen.Generator.Ir;

/// <summary>How a fused elementwise loop over an output of shape S reads an operand of shape T.</summary>
internal enum Access
{
    /// <summary>T equals S: element i.</summary>
    Full,
    /// <summary>One value for every element.</summary>
    Scalar,
    /// <summary>T is the last dimension of S (a bias): element i % cols.</summary>
    Row,
    /// <summary>T is S with the last dimension 1 (one value per row): element i / cols.</summary>
    Column,
    /// <summary>Any other broadcast: the operand is first materialized at S by BroadcastTo.</summary>
    Other,
}

internal static class Broadcasting
{
    public static Access Classify(Shape t, Shape s)
    {
        if (t.Equals(s)) return Access.Full;
        if (!t.IsBatched && t.FixedCount == 1) return Access.Scalar;
        if (s.Rank == 0) return Access.Other;
        int last = s.Dims[s.Rank - 1];
        if (!t.IsBatched && t.Rank >= 1 && t.Dims[t.Rank - 1] == last && t.FixedCount == last && t.Rank <= s.Rank) return Access.Row;
        if (t.Rank == s.Rank && t.Dims[t.Rank - 1] == 1)
        {
            bool same = true;
            for (int i = 0; i < s.Rank - 1; i++) same &= t.Dims[i] == s.Dims[i];
            if (same) return Access.Column;
        }
        return Access.Other;
    }
}
