using System;

namespace ModelGen;

// CONTRACT STUB (owner: training helper).
/// <summary>
/// The base of every <c>[Model]</c> class (the generator adds it): parameters in one arena, and training,
/// evaluation, prediction and checkpoints on top of the compiled program.
/// </summary>
public abstract class ModelBase
{
    /// <summary>Called by the generated constructor.</summary>
    protected ModelBase(ModelDescription description, int seed)
    {
        Description = description;
        Parameters = new ParameterStore(description.Parameters, seed);
    }

    /// <summary>What the generator knows about this model.</summary>
    public ModelDescription Description { get; }

    /// <summary>The parameters, in one arena, with their gradients.</summary>
    public ParameterStore Parameters { get; }

    /// <summary>Creates the generated program for batches of up to <paramref name="maxBatch"/> samples.</summary>
    public abstract CompiledProgram CreateProgram(int maxBatch);
}
