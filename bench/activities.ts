/** The engine worker's one activity: a step of the four-step floor, with nothing in it. */
export const benchActivities = {
  async noopStep(_step: string): Promise<void> {},
};
